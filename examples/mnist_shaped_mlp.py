"""The MNIST MLP recipe, on scikit-learn's 8×8 digits upscaled to 28×28.

Keras original: load (60000, 28, 28) images, ``reshape(60000, 784)``, ``astype('float32') / 255``,
``to_categorical(labels, 10)``, Dense 512 relu / Dropout / Dense 512 relu / Dropout /
Dense 10 softmax. Here the 1,797 digits are upscaled (nearest neighbour, 8×8 → 24×24, padded
to 28×28) so the shapes and the code are the same; nothing is downloaded.
"""
import numpy as np
from sklearn.datasets import load_digits

from torchkeras_lite.models import Sequential
from torchkeras_lite.layers import Dense, Dropout
from torchkeras_lite.utils import to_categorical

digits = load_digits()
images = np.kron(digits.images, np.ones((3, 3)))            # (n, 24, 24)
images = np.pad(images, ((0, 0), (2, 2), (2, 2))) * 255 / 16  # (n, 28, 28), 0..255
labels = digits.target
order = np.random.default_rng(0).permutation(len(images))
images, labels = images[order], labels[order]
x_train, x_test = images[:1500], images[1500:]
y_train, y_test = labels[:1500], labels[1500:]

x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
y_train = to_categorical(y_train, 10)
y_test = to_categorical(y_test, 10)

model = Sequential()
model.add(Dense(512, activation="relu", input_shape=(784,)))
model.add(Dropout(0.2))
model.add(Dense(512, activation="relu"))
model.add(Dropout(0.2))
model.add(Dense(10, activation="softmax"))
model.summary()
model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=128, epochs=5, verbose=1,
          validation_data=(x_test, y_test))
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
