"""xtalgen.pipelines."""
