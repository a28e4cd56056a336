"""Release qualification: two renders of the same inputs compared, object by object. Above the
engine."""
