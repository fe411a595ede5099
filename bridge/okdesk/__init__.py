"""Okdesk, the helpdesk: its data as we read it (`data`) and its REST API (`client`)."""
