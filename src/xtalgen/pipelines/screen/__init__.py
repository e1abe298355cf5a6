"""``xtalgen screen``: candidates -> cheap filters -> dedupe -> energy pre-screen -> relaxation -> E_hull ->
ranked shortlist -> VASP inputs of the top K (see :mod:`xtalgen.pipelines.screen.runner`)."""
