print("fluxgate: not built yet")
