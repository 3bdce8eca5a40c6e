"""Regression on scikit-learn's diabetes data (mse loss, mae metric).

Keras original imports:
    from keras.models import Sequential
    from keras.layers import Dense
"""
import numpy as np
from sklearn.datasets import load_diabetes

from torchkeras_lite.models import Sequential
from torchkeras_lite.layers import Dense

X, y = load_diabetes(return_X_y=True)
X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype("float32")
y = ((y - y.mean()) / y.std()).astype("float32")
order = np.random.default_rng(0).permutation(len(X))
X, y = X[order], y[order]
X_train, y_train, X_test, y_test = X[:350], y[:350], X[350:], y[350:]

model = Sequential()
model.add(Dense(32, input_dim=10, activation="relu"))
model.add(Dense(16, activation="relu"))
model.add(Dense(1))
model.compile(loss="mse", optimizer="adam", metrics=["mae"])
model.fit(X_train, y_train, epochs=50, batch_size=16, verbose=0)

mse, mae = model.evaluate(X_test, y_test, verbose=0)
print(f"Test mse: {mse:.4f}, test mae: {mae:.4f} (targets standardised)")
print("First predictions:", model.predict(X_test[:5], verbose=0).ravel().round(3))
