"""Data builders shared by the tests (not tests themselves): archive samples, profile tables, report cases."""
