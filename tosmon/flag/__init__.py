"""Which changes matter: the rules (`rules`) that read the taxonomy (`taxonomy.yaml`, data)."""
