"""Binary classification on scikit-learn's breast_cancer data (sigmoid + binary_crossentropy).

Keras original imports:
    from keras.models import Sequential
    from keras.layers import Dense, Dropout
"""
import numpy as np
from sklearn.datasets import load_breast_cancer

from torchkeras_lite.models import Sequential
from torchkeras_lite.layers import Dense, Dropout

X, y = load_breast_cancer(return_X_y=True)
X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype("float32")
y = y.astype("float32")
order = np.random.default_rng(0).permutation(len(X))
X, y = X[order], y[order]
X_train, y_train, X_test, y_test = X[:450], y[:450], X[450:], y[450:]

model = Sequential()
model.add(Dense(16, input_dim=30, activation="relu"))
model.add(Dropout(0.2))
model.add(Dense(8, activation="relu"))
model.add(Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(X_train, y_train, epochs=30, batch_size=16, validation_split=0.1, verbose=2)

loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
print(f"Test loss: {loss:.4f}, test accuracy: {accuracy * 100:.2f}%")
