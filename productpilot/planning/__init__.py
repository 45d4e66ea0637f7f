"""Planning: the backlog, priority scoring, estimation, scheduling and delivery risk."""
