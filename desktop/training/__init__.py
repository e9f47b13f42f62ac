"""Fine-tuning: the dialog (data, recipe, live progress), the training curves and the
comparison with the model in use (promote or discard)."""
