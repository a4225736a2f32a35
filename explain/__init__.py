"""SHAP explanations: the scoring artefact, reasons, drivers, rep profiles, contribution, what-if."""
