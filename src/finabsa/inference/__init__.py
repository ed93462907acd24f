"""Inference: loading run and export folders (``loading``), export to merged and ONNX models (``export``),
re-evaluation (``evaluate``), the multi-task ``pipeline``, file streams (``streams``) and the HTTP ``service``.

Submodules are imported where they are used, so that ``import finabsa.inference.streams`` does not load torch."""
