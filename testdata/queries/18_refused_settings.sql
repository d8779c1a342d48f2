SELECT count(*), current_setting('temp_directory') FROM patients
