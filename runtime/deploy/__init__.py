"""Deploy targets: what `build` made, handed to places outside this machine."""
