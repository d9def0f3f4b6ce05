// The Windowing module.
