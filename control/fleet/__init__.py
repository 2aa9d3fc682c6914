"""IGV fleet: task assignment, lifelong traffic planning, charging and parking, and VDA 5050 order adapters."""
