"""I/O at the edges: the landing area, the object store, the warehouse, and the IO managers."""
