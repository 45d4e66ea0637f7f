"""Operations: what happens to the runs that failed (the dead-letter queue)."""
