// Placeholder until ColonyCLI lands.
print("colony")
