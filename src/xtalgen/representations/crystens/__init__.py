"""CrysTens: crystals as image-like (4, N, N) tensors (Alverson et al., Digital Discovery 2024).

``encode`` turns a Structure into a tensor, ``decode`` turns a (possibly noisy, generated) tensor back
into a Structure with diagnostics, ``consistency_metrics`` scores how self-consistent a tensor is, and
``encode_dataset`` writes a whole dataset to one memory-mappable ``.npy``. The normalisation lives in
one :class:`CrysTensConfig` saved next to tensors and models.
"""

from xtalgen.representations.crystens.cell import CapacityError
from xtalgen.representations.crystens.config import HEADER_NAMES, CrysTensConfig, Scale
from xtalgen.representations.crystens.consistency import ConsistencyMetrics, consistency_metrics
from xtalgen.representations.crystens.decode import DecodeOptions, DecodeResult, decode, decode_many
from xtalgen.representations.crystens.encode import OutOfRangeError, encode, encode_arrays
from xtalgen.representations.crystens.encoded_set import EncodedSet, EncodeReport, encode_dataset, load_encoded

__all__ = [
    "HEADER_NAMES",
    "CapacityError",
    "ConsistencyMetrics",
    "CrysTensConfig",
    "DecodeOptions",
    "DecodeResult",
    "EncodeReport",
    "EncodedSet",
    "OutOfRangeError",
    "Scale",
    "consistency_metrics",
    "decode",
    "decode_many",
    "encode",
    "encode_arrays",
    "encode_dataset",
    "load_encoded",
]
