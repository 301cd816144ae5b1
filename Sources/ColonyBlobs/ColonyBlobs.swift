/// Content-addressed blobs: a chunked store on disk and their transfer between peers (DESIGN.md, Blobs).
public enum ColonyBlobs {}
