"""Imported at the start of every kernel that executes a chapter for the book (PYTHONPATH in pages.EXECUTION_ENV).

A chapter's first `glue()` imports nbformat, which imports jsonschema, which imports its optional `rfc3987_syntax`
inside `suppress(ImportError)` and builds a grammar: about 1.3 s of CPU in every chapter. Blocking it leaves only the
"iri" string format of JSON schemas unchecked, which the notebooks' schema never uses (rnngrade.fast_imports does the
same for the grading workers). A reader who runs a chapter without it gets the same outputs, a second later.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
