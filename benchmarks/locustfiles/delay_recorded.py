"""The same user as delay_plain.py with the project's recorder loaded."""

from delay_plain import DelayUser  # noqa: F401  (Locust puts this folder on sys.path)

from loadtests import recorder  # noqa: F401
