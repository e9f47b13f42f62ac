"""The visit view: a visit's photos side by side, its decision, lab result and report."""
