"""Keras callbacks the resume tests share: simulate an interruption, record which epochs ran."""

import keras


class Interrupt(Exception):
    """Raised to simulate a killed training job."""


class InterruptAfterEpoch(keras.callbacks.Callback):
    """Raises `Interrupt` at the end of epoch `epoch` (after BackupAndRestore saved it)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt()


class RecordEpochs(keras.callbacks.Callback):
    """Keeps the index of every epoch that started."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)
