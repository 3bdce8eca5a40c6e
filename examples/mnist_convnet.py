"""The classic Keras MNIST convnet, on scikit-learn's 8×8 digits upscaled to 28×28.

Keras original imports:
    import keras
    from keras import layers
Only the imports change; nothing is downloaded.
"""
import numpy as np
from sklearn.datasets import load_digits

import torchkeras_lite as keras
from torchkeras_lite import layers

num_classes = 10
input_shape = (28, 28, 1)

digits = load_digits()
images = np.kron(digits.images, np.ones((3, 3)))             # (n, 24, 24)
images = np.pad(images, ((0, 0), (2, 2), (2, 2))) * 255 / 16   # (n, 28, 28), 0..255
order = np.random.default_rng(0).permutation(len(images))
images, labels = images[order], digits.target[order]
x_train, x_test = images[:1500], images[1500:]
y_train, y_test = labels[:1500], labels[1500:]

x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=128, epochs=5, validation_split=0.1)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
