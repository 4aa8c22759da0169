"""Radio: link budget, best server, interference, SINR, Shannon capacity, user types."""
