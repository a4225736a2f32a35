"""SHAP explanations: the scoring artefact, reasons, drivers, rep profiles, what-if."""
