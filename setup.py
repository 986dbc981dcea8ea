"""The optional C loop for structural class ids; without a compiler graphaudit installs and runs it in Python."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("graphaudit._classes", ["graphaudit/_classes.c"], optional=True)])
