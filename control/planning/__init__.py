"""IGV path planning (issue 6): grid maps, BFS distance tables, numba MAPF planners (PIBT, LaCAM, lifelong) and an
independent plan validator. Cells are int32 ids ``y * width + x``; a plan is a (T + 1, N) int32 array of cells."""
