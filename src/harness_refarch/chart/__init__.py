"""The chart under test: where it comes from, its values layers (merged as helm merges them),
the keys it declares and what its templates read. Above helm and the model."""
