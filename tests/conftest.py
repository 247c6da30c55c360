import matplotlib

matplotlib.use("Agg")  # unit tests draw off-screen; notebooks keep their inline backend
