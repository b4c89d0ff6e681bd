"""Image metrics, one module each (the contract is in `wganlab.metrics`)."""
