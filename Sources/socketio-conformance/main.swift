print("socketio-conformance: not built yet")
