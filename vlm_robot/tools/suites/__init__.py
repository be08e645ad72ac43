"""`vlm-robot suite adversarial | dialogue | proactive`: scripted cases against the real gate, reasoner and policy."""
