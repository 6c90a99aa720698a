"""The coordinators' adherence dashboard (Streamlit), reading the study's DuckDB warehouse read-only.

``app`` is the Streamlit entry point and the only module that imports
Streamlit; ``queries`` (SQL), ``participant_table`` (the table and its flags),
``data`` (what each page shows), ``charts`` (Altair), ``auth`` (the password)
and ``launch`` (the ``streamlit run`` command line) are plain Python.
"""
