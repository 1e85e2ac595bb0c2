"""The devices' side: the Raspberry Pi client (`swan pi`) and its LED matrices."""
