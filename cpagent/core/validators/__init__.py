"""Pre-generated schema validators, one module per official schema (tools/gen_validators.py)."""
