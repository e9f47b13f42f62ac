"""The review panel: one photo with its Grad-CAM overlay, header, probabilities, label keys,
note and label history."""
