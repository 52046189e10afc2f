"""The engine: the network and graph engines, training, hand rounding,
the gradient check, and the trace they record."""
