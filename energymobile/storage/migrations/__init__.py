"""The warehouse's Alembic environment: `env.py`, and in `versions/` one revision per schema
change, 001 to the newest. Shipped inside the package and found with importlib.resources
(`storage/migrate.py`), so an installed wheel migrates its database as a checkout does."""
