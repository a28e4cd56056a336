"""helm itself: finding and installing the binary, render requests and the render store.
Above the model only."""
