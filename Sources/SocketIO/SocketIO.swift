// The SocketIO module.
