SELECT count(*) FROM patients /* ; */ ; COPY patients TO 'out.csv'
