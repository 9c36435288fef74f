# On-device wake word: a fixed-point log-mel front end and a small int8 model.
# from wakeword.detector import Detector  (see docs/wakeword.md)
