"""What the cloud serves to browsers: the dashboard build and the offline API docs."""
