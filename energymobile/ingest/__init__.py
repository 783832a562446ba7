"""Pure functions that turn a delivery's bytes into validated, reduced cycles."""
