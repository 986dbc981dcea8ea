"""Optional C loops (structural class ids, the GraphDef wire scan); without a compiler graphaudit installs and runs them in Python."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("graphaudit._classes", ["graphaudit/_classes.c"], optional=True),
                   Extension("graphaudit._wire", ["graphaudit/_wire.c"], optional=True)])
