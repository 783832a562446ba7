"""Sample deliveries for development and tests, anchored on the real UCI dataset."""
