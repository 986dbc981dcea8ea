"""Optional C loops (structural class ids, the GraphDef wire scan, checkpoint index blocks); without a compiler graphaudit installs and runs them in Python."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("graphaudit.analysis._classes", ["graphaudit/analysis/_classes.c"], optional=True),
                   Extension("graphaudit.formats._wire", ["graphaudit/formats/_wire.c"], optional=True),
                   Extension("graphaudit.formats._table", ["graphaudit/formats/_table.c"], optional=True)])
