"""infoplane: information-plane analysis of neural networks."""
