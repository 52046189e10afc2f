"""The layer kinds' `explain --param` derivations (the code behind each kind's `explain` face, kinds.Explains): a
module per kind, imported the first time explain asks for one, so no other command pays for their data classes."""
