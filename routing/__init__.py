"""Pilot routing: the Digitallots*innen directory, matching, help requests and their timers. No botbuilder."""
